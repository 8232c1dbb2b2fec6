"""`pasar webhooks`: a relay from a node's event stream to merchants' HTTPS endpoints.

It follows `GET /v1/events` from a cursor stored in SQLite, turns the chain's
events into webhook kinds (invoice.paid, order.shipped, ...), signs each delivery
as the Standard Webhooks specification says, and delivers at least once with
retries. It talks to nodes over HTTP only, through `cli.client`.
"""
