"""Errors raised while receiving and applying provider events.

They carry what a person needs to act: the HTTP answer for a refused
delivery, or the kind of exception record to open for a business problem.
"""


class WebhookRefused(Exception):
    """A delivery that must be answered with a 4xx and stored nowhere.

    ``reason`` is short and fixed (it is logged and counted); ``detail`` may
    quote the sender's payload, so it only goes back to the sender.
    ``public_reason``, when given, is all the sender learns instead of ``reason``
    and ``detail`` (a refusal that must not tell an attacker about the provider).
    """

    def __init__(self, status, reason, detail=None, public_reason=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.public_reason = public_reason

    def answer(self):
        """``(status, error, detail)`` that the sender is told."""
        if self.public_reason:
            return self.status, self.public_reason, None
        return self.status, self.reason, self.detail


class InvalidSignature(WebhookRefused):
    """A delivery whose signature cannot be trusted: missing, malformed, wrong or stale.

    The sender gets the same answer for each (a 400 ``invalid signature``), so that
    probing a provider's endpoint tells nothing about it; ``reason`` keeps the precise
    cause for the refusal counter and the log.
    """

    def __init__(self, reason):
        super().__init__(400, reason, public_reason="invalid signature")


class MalformedEvent(ValueError):
    """A verified payload that lacks what every event must have."""


class BusinessError(Exception):
    """A problem a person must solve; becomes a ``billing.exception``.

    ``exception_type`` is one of ``billing.exception.exception_type``.
    """

    def __init__(self, exception_type, message, suggested_action=None,
                 amount=None, currency=None, record=None, group_key=None,
                 subject_ref=None, rule_type=None):
        super().__init__(message)
        self.exception_type = exception_type
        self.message = message
        self.suggested_action = suggested_action
        self.amount = amount
        self.currency = currency
        self.record = record
        # Identical causes share a key: they are routed and resolved together.
        self.group_key = group_key
        # The external reference at fault, and the mapping rule type that fixes it.
        self.subject_ref = subject_ref
        self.rule_type = rule_type


class WaitForObject(Exception):
    """The event depends on an object that has not been applied yet."""

    def __init__(self, object_ref, message=None):
        super().__init__(message or f"Waiting for {object_ref}")
        self.object_ref = object_ref
        self.message = message or f"Waiting for {object_ref}"
