"""Delivery: alerts, digests and operator notices from the outbox to mail servers, chat and
webhooks.

transports (SMTP, the file outbox, Airflow's smtp_default; Wire, Receipt) · channels (Apprise,
and signed JSON webhooks through webhooks) · send (one claim→render→send→settle loop for every
kind of outbox row) · notice (Airflow's failure callback) · messages (rendering, pure: alert,
digest, notice, webhook's JSON body, and the header, address, Message-ID, link and span helpers
they share in common). Nothing is imported here, so a DAG file that imports notice while being
parsed loads no mail code.
"""
