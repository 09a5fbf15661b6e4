/**
 * @module @wirehouse/server
 */
export {};
