/** DSSE envelope and in-toto Statement v1: the shapes of `attestation.dsse.json`. */

/** DSSE payload type of an in-toto statement. */
export const PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
/** Predicate of a Palisade function build: which function the subjects are the bundle and SBOM of. */
export const PREDICATE_TYPE = "https://palisade.dev/attestation/function-bundle/v1";

export interface DsseEnvelope {
  payloadType: string;
  /** base64 of the serialized statement. */
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

export interface FunctionStatement {
  _type: typeof STATEMENT_TYPE;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: typeof PREDICATE_TYPE;
  predicate: {
    function: string;
    bundle: string;
    sbom: string;
    sbomFormat: "CycloneDX 1.5";
    /**
     * When the bundle was signed (ISO 8601): orders builds of one function, so the runtime can refuse
     * an older one (a rollback). Absent in attestations made before it existed: those count as oldest.
     */
    builtAt?: string;
  };
}

/**
 * DSSE v1 pre-authentication encoding, the bytes that are signed:
 * `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII decimal byte counts.
 */
export function preAuthEncoding(payloadType: string, body: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, "ascii"),
    type,
    Buffer.from(` ${body.length} `, "ascii"),
    body,
  ]);
}
