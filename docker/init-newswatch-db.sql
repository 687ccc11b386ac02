-- Runs once, when the postgres volume is first initialised: the news store beside Airflow's
-- metadata database, owned by the same user (POSTGRES_USER).
CREATE DATABASE newswatch;
