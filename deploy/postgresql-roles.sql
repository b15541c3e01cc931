-- Two database roles for a PostgreSQL deployment of Minqing (docs/SECURITY-BAR.md §8, §13: the runtime
-- role can neither change nor cut the audit trail).
--
--   minqing_owner  owns the database, its schema and every table: `minqing migrate` (and
--                  backup/restore) run as this role, nothing else does.
--   minqing_app    the web server and the worker connect as this role. It owns nothing, so it
--                  cannot drop or disable the audit triggers or alter a table; it may SELECT,
--                  INSERT, UPDATE and DELETE rows of the application's tables, but on the audit
--                  tables (audit_auditevent, audit_auditseal) only SELECT and INSERT: every
--                  `minqing migrate` revokes the rest there (minqing.audit.roles, post_migrate).
--
-- Part 1, once, as a superuser (psql -U postgres -f deploy/postgresql-roles.sql sets both
-- parts up in a new database "minqing"); choose the passwords, e.g. with \password afterwards.

CREATE ROLE minqing_owner LOGIN;
CREATE ROLE minqing_app LOGIN;
CREATE DATABASE minqing OWNER minqing_owner ENCODING 'UTF8' TEMPLATE template0;
\connect minqing

-- Part 2, in the database, as a superuser or minqing_owner (again after moving an existing
-- install to these roles: first REASSIGN OWNED BY <old role> TO minqing_owner).
-- begin part 2
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO minqing_owner;
GRANT USAGE ON SCHEMA public TO minqing_app;
REVOKE ALL ON DATABASE minqing FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE minqing TO minqing_app;
-- Tables and sequences minqing_owner creates from now on (every migration):
ALTER DEFAULT PRIVILEGES FOR ROLE minqing_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO minqing_app;
ALTER DEFAULT PRIVILEGES FOR ROLE minqing_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO minqing_app;
-- Tables that exist already (an existing install):
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO minqing_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO minqing_app;
-- end part 2

-- Then, as minqing_owner:
--   DATABASE_URL=postgres://minqing_owner:…@host/minqing minqing migrate
-- (which also revokes UPDATE, DELETE, TRUNCATE, TRIGGER and REFERENCES on the audit tables
-- from minqing_app), and run the application with
--   DATABASE_URL=postgres://minqing_app:…@host/minqing
