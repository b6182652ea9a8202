// `node --import <this>`: installs hooks.mjs (Node's module.register) before the app's first import.
import { register } from 'node:module';

register(new URL('./hooks.mjs', import.meta.url));
