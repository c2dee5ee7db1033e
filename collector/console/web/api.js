// The console's only way to talk to the collector: same-origin fetches with
// the session cookie, the CSRF header on anything but GET, and errors turned
// into Error objects carrying the server's message and HTTP status.
let csrf = '';
let actor = '';

export function setCsrf(token) { csrf = token || ''; }
// On an open collector the person's name goes into the body's `actor`.
export function setActor(name) { actor = name || ''; }

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-AIMS-CSRF'] = csrf;
    const b = Object.assign({}, body || {});
    if (actor && !('actor' in b)) b.actor = actor;
    init.body = JSON.stringify(b);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const message = (data && data.error) || `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message);
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);

// "a=1&b=2" from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
