export * from './errors.js';
export * from './message.js';
export * from './record-marking.js';
export * from './client.js';
export * from './server.js';
