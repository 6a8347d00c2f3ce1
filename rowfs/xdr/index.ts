export { XdrError, XdrDecodeError, XdrEncodeError, type XdrErrorCode } from './errors.js';
export { XdrReader } from './reader.js';
export { XdrWriter, encodeXdr, decodeXdr } from './writer.js';
