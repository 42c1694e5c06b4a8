/**
 * The free-port picker of every test and benchmark. It is Sifu's own (the local backend's), not a copy:
 * the picker remembers the ports it handed out lately, so a port a test picked for a Sifu it starts in
 * this process is never also handed to a learner's server that Sifu's local backend starts meanwhile.
 */
export { pickFreePort as freePort } from '../../src/spawner/local/free-port.js';
