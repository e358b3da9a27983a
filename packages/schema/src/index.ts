export * from './bot.js';
export * from './call.js';
export * from './dialling.js';
