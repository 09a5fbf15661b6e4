/**
 * @module @wirehouse/cgi
 */
export {};
