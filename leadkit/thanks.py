"""What a thank-you page knows of the order just made: a signed cookie naming the lead.

After an order the customer is sent on (303) to a thank-you page, which may greet them by name
(a kit's ``ok.php``: "Thank you, Anna!") and, later, fire pixels with the lead id as the event id.
Neither the name nor the id goes in the URL (it would land in access logs and referrers): the
redirect sets ``leadkit_lead``, an HttpOnly cookie holding the lead id signed with the site secret
(itsdangerous) for an hour; the thank-you page reads the lead from the journal by it. A forged,
old or missing cookie reads as no lead.
"""

from __future__ import annotations

from itsdangerous import BadData

from .signing import PreparedSerializer

__all__ = ["LeadCookie"]


class LeadCookie:
    """The signed cookie that names the visitor's last lead, for the thank-you page."""

    def __init__(self, secret: str, *, name: str = "leadkit_lead", max_age: int = 3600) -> None:
        self.name = name
        self.max_age = max_age
        self._serializer = PreparedSerializer(secret, salt="leadkit.lead")

    def dumps(self, lead_id: str) -> str:
        return self._serializer.dumps(lead_id)

    def loads(self, value: str | None) -> str | None:
        if not value or len(value) > 200:
            return None
        try:
            lead_id = self._serializer.loads(value, max_age=self.max_age)
        except (BadData, ValueError, TypeError):
            return None
        return lead_id if isinstance(lead_id, str) and lead_id.isdigit() else None
