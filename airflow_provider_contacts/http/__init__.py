"""All of this provider's HTTP: retry policy and waits (``policy``), failures as exceptions and
the redirect rules (``errors``), one attempt loop with a ``requests`` driver and an ``httpx``
driver (``client``), auth objects (``auth``), request plans (``plan``) and what may be logged
(``logging``). Nothing here knows a vendor: hooks hand their auth object and error mapper to
the client when they build it."""
