/**
 * @module @wirehouse/sandbox
 */
export {};
