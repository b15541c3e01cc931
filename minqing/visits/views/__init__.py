"""Visit-diary pages: the diary itself (``diary``), quotas, compliance, events and campaigns
(``cadence``), night visits (``night``)."""
