/**
 * @module @wirehouse/static
 */
export {};
