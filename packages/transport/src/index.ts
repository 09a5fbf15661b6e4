/**
 * @module @wirehouse/transport
 */
export {};
