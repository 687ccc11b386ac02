-- Claim one due pending digest for this transaction; concurrent senders skip locked rows.
-- :email_ok is false once the mail server is down in this delivery: other channels still go.
select id
from digests
where state = 'pending'
  and (next_attempt_at is null or next_attempt_at <= :now)
  and (:email_ok or channel <> 'email')
order by id
limit 1
for update skip locked
