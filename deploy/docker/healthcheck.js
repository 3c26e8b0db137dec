// Container health check: exits 0 when the sdbot process in this container answers its health
// endpoint (default /healthz; the worker's /readyz also needs models loaded and NATS connected) on
// SDBOT_METRICS_PORT, 1 otherwise. Node has fetch built in, so the slim images need no curl.
const path = process.argv[2] ?? '/healthz';
const port = process.env.SDBOT_METRICS_PORT;

function fail(reason) {
  process.stderr.write(`healthcheck ${path}: ${reason}\n`);
  process.exit(1);
}

if (port === undefined || port === '') fail('SDBOT_METRICS_PORT is not set, so no health endpoint runs');
try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) fail(`answered ${response.status}`);
} catch (error) {
  // fetch reports "fetch failed" and keeps the reason (ECONNREFUSED, a timeout) in its cause.
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  fail(`${error instanceof Error ? error.message : String(error)}${cause}`);
}
