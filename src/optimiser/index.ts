/**
 * The optimiser (protocols.md §5): prices + sessions (departure, energy need, power bounds) + site
 * limits → absolute charging schedules in W. Pure: no I/O, no clock (the only side effect is loading
 * the HiGHS WebAssembly module once, on the first multi-EV plan that needs it). See README.md here.
 */
export * from './types.js';
export { parsePriceFile, resampleCurve, validateCurve, PriceFileError, PRICE_FILE_FORMAT, type PriceFile, type PriceFileMeta } from './prices.js';
export { planSingle } from './single.js';
export { planMulti, relaxedOptimum, type MultiMethod, type MultiOptions, type MultiDiagnostics } from './multi.js';
export { getHighs } from './highs.js';
export { DEFAULT_EFFICIENCY } from './problem.js';
