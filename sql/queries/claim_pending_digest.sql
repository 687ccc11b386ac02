-- Claim one due pending digest for this transaction; concurrent senders skip locked rows.
select id
from digests
where state = 'pending' and (next_attempt_at is null or next_attempt_at <= :now)
order by id
limit 1
for update skip locked
