"""Issue pages, by subdomain: ``lists`` (my list, the dispatch board, the report), ``register``
(registration with similar issues, attaching a household), ``issue`` (the issue page and its
steps, photos), ``topics`` (alike issues grouped) and ``settings`` (categories, deadlines);
``common`` holds what they share."""
