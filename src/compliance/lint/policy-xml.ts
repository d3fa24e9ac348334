import { InvalidOptionError } from '../../errors.ts';
import { parsePolicyXml as parse, PolicyXmlError, type PolicyElement } from '../../protocol/policy-xml.ts';

export { escapeExpressions, type PolicyElement } from '../../protocol/policy-xml.ts';

/**
 * The policy parser lives in src/protocol because the local gateway reads the same XML;
 * here a malformed document becomes a `--policy` option error.
 */
export function parsePolicyForLint(xml: string, file: string): PolicyElement[] {
  try {
    return parse(xml, file);
  } catch (error) {
    if (error instanceof PolicyXmlError) throw new InvalidOptionError('--policy', error.message, 'an APIM policy document (<policies>…</policies>)');
    throw error;
  }
}
