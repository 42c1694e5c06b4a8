// The raw server's suites again, with its connections read through 'data' events (the fallback for a Node
// whose socket fields it cannot find): see `readsByEvents` in raw-server.test.ts.
process.env.SIFU_TEST_RAW_READS = 'events';
await import('./raw-server.test.js');
