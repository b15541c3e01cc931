"""The quarterly menu's services: authoring (checklists, menus, versions), campaigns, answers,
back-checks and the counters' rebuild. Views, the API, the commands and the bench call these."""
