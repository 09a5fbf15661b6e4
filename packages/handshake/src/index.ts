/**
 * @module @wirehouse/handshake
 */
export {};
