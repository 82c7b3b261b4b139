// Which IMAP body part (BODYSTRUCTURE, RFC 3501 7.4.2) each attachment postal-mime found is, so a
// FileReference can name the part and getAttachment can stream just that part from the server.
import type { MessageStructureObject } from 'imapflow';

export interface PostalAttachmentLike {
  mimeType: string;
  filename: string | null;
  contentId?: string;
}

interface Leaf {
  part: string;
  type: string;
  filename?: string;
  id?: string;
  attachment: boolean;
}

function leaves(node: MessageStructureObject, out: Leaf[], top: boolean): void {
  const type = node.type.toLowerCase();
  if (type.startsWith('multipart/') && node.childNodes !== undefined) {
    for (const child of node.childNodes) leaves(child, out, false);
    return;
  }
  // a message/rfc822 part is one attachment: its inner parts are not descended into
  const filename = node.dispositionParameters?.filename ?? node.parameters?.name;
  out.push({
    // the body of a single-part message is part 1 (RFC 3501 6.4.5)
    part: node.part ?? (top ? '1' : ''),
    type,
    ...(filename !== undefined && { filename }),
    ...(node.id !== undefined && { id: node.id.replace(/^<|>$/g, '') }),
    attachment: node.disposition?.toLowerCase() === 'attachment',
  });
}

/**
 * The part number of each attachment, in postal-mime's order; undefined where no part matches
 * for sure (the caller then falls back to parsing the whole message). Both walk the tree depth
 * first in document order, so matching moves forward only: first by type and file name, then by
 * type alone among parts that cannot be a body.
 */
export function attachmentParts(
  attachments: readonly PostalAttachmentLike[],
  structure: MessageStructureObject | undefined,
): Array<string | undefined> {
  if (structure === undefined) return attachments.map(() => undefined);
  const all: Leaf[] = [];
  leaves(structure, all, true);
  let from = 0;
  return attachments.map((a) => {
    const type = a.mimeType.toLowerCase();
    const cid = a.contentId?.replace(/^<|>$/g, '');
    const fits = (l: Leaf): boolean =>
      l.part !== '' && l.type === type && (cid === undefined || l.id === undefined || l.id === cid);
    let at = all.findIndex(
      (l, i) => i >= from && fits(l) && (a.filename === null || l.filename === a.filename),
    );
    if (at < 0)
      at = all.findIndex(
        (l, i) =>
          i >= from && fits(l) && (l.attachment || l.filename !== undefined || !type.startsWith('text/')),
      );
    if (at < 0) return undefined;
    from = at + 1;
    return all[at]?.part;
  });
}
