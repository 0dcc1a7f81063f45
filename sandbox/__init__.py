"""The reference coordination server (FastAPI + SQLite) and its synthetic Vietnamese population: `synthetic/` makes
the people and their documents, `server/` serves them. Installed with the `sandbox` extra; the kiosk runs without it.

Start it with `kiosk sandbox --port 8700 --db sandbox.sqlite --synthetic 10000 --demo-clients --trust-list-out
trust.json`, or in-process with `sandbox.server.runner.start_sandbox(SandboxConfig(...))`. Everything is FHIR R4
JSON under `/fhir`:

- `GET metadata` (CapabilityStatement, lists `match`/`summary` only when switched on, and the token URL);
- `POST auth/token` (client credentials, form-encoded; errors in RFC 6749 shape, since OAuth clients read that);
- `GET Patient?identifier=SYSTEM|VALUE[,SYSTEM|VALUE...]` and plain search on `family`, `given`, `birthdate`
  (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, prefixes eq/ge/le/gt/lt), `gender`, `address-state` (old or new province name),
  `phone`, `_id`, paged by `_count`/`_offset` with a `next` link; `GET Patient/{id}`;
- `POST Patient/$match` -> searchset with `search.score` and the match-grade extension;
- `GET Patient/{id}/$summary` -> collection: the Patient, then each signed document Bundle (Composition first);
  the same documents by standard search: `GET Bundle?type=document&composition.subject=Patient/{id}`;
- `GET Consent?patient=`; without an active consent, summaries and documents answer 403 `consent-required` unless
  the request carries `X-Purpose-Of-Use: BTG` and `X-Break-Glass-Reason` (URL-encoded text is accepted);
  every release is recorded as an AuditEvent (`GET AuditEvent?patient=`), break-glass flagged with its reason;
- `PUT AuditEvent/{id}` (idempotent: 201 once, then 200 with the stored event);
- `GET Appointment?patient=&date=`, `GET Appointment/{id}`, `PUT Appointment/{id}` with status `arrived`
  (idempotent check-in);
- `GET ServiceRequest?performer=Organization/{code}&status=active`, `GET ServiceRequest/{id}`.

Errors are OperationOutcomes. Scopes are checked by the server (`sandbox.server.auth`): the lobby client can
identify patients, read appointments, check in and write audit events, nothing clinical.

Synthetic people, their clinical history and the facilities' keys all derive from the seed, so one seed gives one
world; documents are made and signed on first request and kept, and dates are counted from the day the database
was opened, so some re-examinations are always due today.
"""
