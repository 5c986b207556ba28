"""Live-key checks against token APIs.

``runner.verify_findings`` is the entry point: it picks a verifier per
finding (the configured new-api/one-api gateways in ``newapi``, or a check
declared in ``rules/verifiers.toml`` and run by ``declared``), checks each
distinct key once through ``transport``, and returns the findings with
``verification`` filled. ``settings`` reads the gateways and limits from
the configuration; ``base`` defines the statuses.

Nothing here is imported by a scan that does not verify.
"""
