/** Entry point: mounts the dashboard into `#app`. */
import { render } from 'preact';

import { App } from './app.js';
import { html } from './html.js';
import './styles.css';

const root = document.getElementById('app');
if (root === null) throw new Error('index.html has no #app element');
render(html`<${App} />`, root);
