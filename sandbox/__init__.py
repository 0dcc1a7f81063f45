"""The reference coordination server (FastAPI + SQLite) and its synthetic Vietnamese population: `synthetic/` makes
the people and their documents, `server/` serves them. Installed with the `sandbox` extra; the kiosk runs without it.

Start it with `kiosk sandbox --port 8700 --db sandbox.sqlite --synthetic 10000 --demo-clients --trust-list-out
trust.json`, or in-process with `sandbox.server.runner.start_sandbox(SandboxConfig(...))`. Everything is FHIR R4
JSON under `/fhir`:

- `GET metadata` (CapabilityStatement, lists `match`/`summary` only when switched on, and the token URL);
- `POST auth/token` (client credentials, form-encoded, optionally with `staff_id` and `staff_pin` naming the person
  at the kiosk; errors in RFC 6749 shape, since OAuth clients read that);
- `GET Patient?identifier=SYSTEM|VALUE[,SYSTEM|VALUE...]` and plain search on `family`, `given`, `birthdate`
  (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, prefixes eq/ge/le/gt/lt), `gender`, `address-state` (old or new province name),
  `phone`, `_id`, paged by `_count`/`_offset` with a `next` link, `_summary=count` for the total alone;
  `GET Patient/{id}`;
- `POST Patient/$match` -> searchset with `search.score` and the match-grade extension;
- `GET Patient/{id}/$summary` -> collection: the Patient, then each signed document Bundle (Composition first);
  the same documents by standard search: `GET Bundle?type=document&composition.subject=Patient/{id}`;
- `GET Consent?patient=`; without an active consent, summaries and documents answer 403 `consent-required` unless
  the request carries `X-Purpose-Of-Use: BTG` and an `X-Break-Glass-Reason` of real content (percent-encoded
  UTF-8, at least 8 letters or digits, at most 500 characters; anything less is 400 saying what is wrong);
- `PUT AuditEvent/{id}`: the kiosk's own trail, at most 16 KiB, stamped with the token's client and staff member,
  write-once (201, then 200 for the same event and 409 for another, echoing nothing);
  `GET AuditEvent?patient=`, `GET AuditEvent/{id}`: the audit log, for the admin role only, also by period
  (`date=ge...&date=lt...`, to the millisecond in any zone) and by origin, type, subtype and agent (`_tag`,
  `type`, `subtype`, `agent`), or counted with `_summary=count` (`sandbox.server.audit_search`);
- `GET Appointment?patient=&date=`, `GET Appointment/{id}`, `PUT Appointment/{id}` with status `arrived`
  (idempotent check-in);
- `GET ServiceRequest?performer=Organization/{code}&status=active`, `GET ServiceRequest/{id}`;
- `POST Patient` (ER): a temporary identity for a person the ER cannot identify, one Patient per temporary number
  (201, then 200 with the same Patient); `POST Patient/{id}/$link-identity` (Parameters `target`) and
  `POST Patient/{id}/$unlink-identity`; `GET Provenance?target=Patient/{id}`: the links and undos
  (`sandbox.server.routes_identity`);
- `POST CoverageEligibilityRequest` -> CoverageEligibilityResponse: the simulated insurance gateway, its synthetic
  rule in `sandbox.server.routes_eligibility`.

Errors are OperationOutcomes. Who may see what is one table, `sandbox.server.policy.POLICY` (role x resource x
operation, deny by default), that every FHIR route passes through; `sandbox/POLICY.md` is generated from it with
the answer each role gets on each route. In short: the lobby identifies one person (an exact identifier or enough
demographics to single them out, at most 3 results, no paging), sees their appointments as time, place and
department and checks them in; reception identifies, sees today's appointments and the referrals addressed to its
facility, diagnoses only for patients who consented; the ER reads what consent allows and may break the glass; the
admin reads the audit log. The server writes an AuditEvent for every answer about a patient, every refusal and
every break-glass, naming the client, its role and the staff member from the token (`sandbox.server.audit`).
Clients and demo staff accounts are in `sandbox.server.auth`.

Limits (`sandbox.server.limits`; every cap is also listed in the CapabilityStatement, as the `abuse-limits`
extension and in `rest.documentation`):
- request bodies up to 256 KiB, refused with 413 before anything parses them (a declared length at once, a chunked
  body as it streams), and the connection closed rather than read to the end;
- 200 requests/s per client id in bursts of up to 2,000 (per source address without a token and at the token
  endpoint): 429 `throttled` with `Retry-After`, which the kiosk's client waits out when it is short;
- the token endpoint locks a client id out after 5 consecutive failures (wrong secret or PIN) and a source address
  after 20, for 1 s doubling with each further failure up to 5 min; while locked even the right secret gets 429
  `temporarily_unavailable` with `Retry-After`, unchecked; a success resets the count;
- pages of at most 100 entries on every search (a larger `_count` is served as 100, and the `next` link says so);
- `$match`: at most 50 candidates, and the Patient's names up to 100 characters, telecom values 50, addresses and
  any other text 200, lists of 10 items, objects of 40 elements, 8 levels deep: 400 naming the field.
The first three are `SandboxConfig.limits` (`AbuseLimits`) and can be moved per server; the rest are constants.

Synthetic people and their clinical history derive from the seed, so one seed gives one world; the facilities'
signing keys do not: each sandbox makes its own at random on its first start and keeps them beside its database
(`<db stem>-facility-keys.json`, 0600), so knowing the seed forges no signature. Documents are made and signed on
first request and kept, and dates are counted from the day the database was opened, so some re-examinations are
always due today. `--db` opens only a sandbox database (or makes a new one), and `--trust-list-out` replaces only
an earlier trust list.
"""
