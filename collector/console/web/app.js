// The console's entry: the session (sign-in, sign-out), the navigation and
// the hash router that draws one page at a time into <main>.
import { get, post, setCsrf, setActor, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { overviewPage, registerPage, detailPage } from './pages.js';
import { objectivePage } from './objective.js';
import { objectivesPage, modelsPage, modelPage, auditPage, planPage, reportsPage } from './pages2.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

// The signed-in person: {name, role, permissions, open}.
export const session = { current: null };

export function can(permission) {
  const s = session.current;
  return !!s && (s.open || (s.permissions || []).includes(permission));
}

const routes = {
  overview: overviewPage,
  register: registerPage,
  nc: detailPage,
  objectives: objectivesPage,
  objective: objectivePage,
  models: modelsPage,
  model: modelPage,
  audit: auditPage,
  plan: planPage,
  reports: reportsPage,
};

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'overview', args: parts.slice(1), params: new URLSearchParams(q || '') };
}

let renders = 0;
let drawing = Promise.resolve();

// Pages draw into <main> after their requests return, so two renders in
// flight (a sign-in's overview, then a link followed at once) could finish
// in the wrong order and leave the older page drawn. Renders run one after
// the other, and one that a newer render has overtaken is skipped.
function render() {
  const generation = ++renders;
  drawing = drawing
    .then(() => (generation === renders ? draw() : undefined))
    .catch((e) => console.error(e)); // a failed draw must not stop the next
  return drawing;
}

async function draw() {
  if (!session.current) return;
  const route = parseHash();
  const page = routes[route.page] || overviewPage;
  for (const a of nav.querySelectorAll('a')) {
    const target = a.getAttribute('href').slice(2);
    a.classList.toggle('active', target === route.page ||
      (route.page === 'nc' && target === 'register') || (route.page === 'model' && target === 'models') ||
      (route.page === 'objective' && target === 'objectives'));
  }
  // data-route names the page main shows once it is drawn, so that a reader
  // (or a test) can tell the new page from the one it replaces.
  const hash = location.hash;
  main.removeAttribute('data-route');
  main.setAttribute('aria-busy', 'true');
  clear(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    await page(main, route);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      signedOut(e.message);
      return;
    }
    clear(main, h('div', { class: 'error', role: 'alert' }, e.message || String(e)));
  }
  main.dataset.route = hash;
  main.removeAttribute('aria-busy');
}

function showWho() {
  const s = session.current;
  if (s.open) {
    const input = h('input', { id: 'actor', placeholder: 'your name', value: localStorage.getItem('aims.actor') || '',
      'aria-label': 'Your name for the audit trail' });
    input.addEventListener('change', () => {
      localStorage.setItem('aims.actor', input.value.trim());
      setActor(input.value.trim());
    });
    setActor(input.value.trim());
    clear(who, h('span', { class: 'open-banner', title: 'This collector has no tokens file: anyone who reaches it may read and act.' },
      'Open collector · acting as '), input);
    return;
  }
  clear(who, h('span', { id: 'whoami' }, `${s.name} · ${s.role}`), ' ',
    h('button', { id: 'signout', class: 'link', onclick: signOut }, 'Sign out'));
}

function signedIn(s) {
  session.current = s;
  setCsrf(s.csrf);
  nav.hidden = false;
  showWho();
  render();
}

export function signedOut(message) {
  session.current = null;
  setCsrf('');
  nav.hidden = true;
  clear(who);
  signInPage(message);
}

async function signOut() {
  try { await post('/v1/session/end', {}); } catch (e) { /* the cookie is cleared either way */ }
  signedOut('You have signed out.');
}

function signInPage(message) {
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, placeholder: 'aims_…', 'aria-label': 'Access token' });
  const status = h('p', { id: 'signin-status', class: message ? 'notice' : 'muted', role: 'status' },
    message || 'Paste the access token your administrator gave you. It is not shown and not stored in the browser.');
  const form = h('form', { id: 'signin', class: 'card signin' },
    h('h1', {}, 'Sign in to aims'),
    h('label', { for: 'token' }, 'Access token'), token,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = token.value.trim();
    token.value = '';
    try {
      signedIn(await post('/v1/session', { token: value }));
    } catch (e) {
      status.className = 'error';
      status.textContent = e.message;
    }
  });
  clear(main, form);
  token.focus();
}

async function start() {
  try {
    signedIn(await get('/v1/session'));
  } catch (e) {
    signedOut(e instanceof ApiError && e.status === 401 ? '' : e.message);
  }
}

window.addEventListener('hashchange', render);
start();
