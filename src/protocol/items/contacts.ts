// Contacts class (MS-ASCNTC): the Contacts and Contacts2 namespaces plus airsyncbase:Body.
// Birthday and Anniversary are the long dateTime form (MS-ASCNTC 2.2.2.6, 2.2.2.4).
import type { ContactItem } from '../../backend/model.js';
import { body, categories, dateTime, integer, rowsFor, text, textList, type Row } from './common.js';

const C = 'Contacts';
const C2 = 'Contacts2';

const field = rowsFor<ContactItem>();
const s = (prop: keyof ContactItem & string, ns = C): Row<ContactItem> =>
  field(prop as 'FileAs', ns, prop, text);

/** In the order of MS-ASCNTC 2.2.2 (ApplicationData is an xs:choice: any order is valid). */
export const contactRows: Row<ContactItem>[] = [
  field('Anniversary', C, 'Anniversary', dateTime),
  s('AssistantName'),
  s('AssistantPhoneNumber'),
  field('Birthday', C, 'Birthday', dateTime),
  field('Body', 'AirSyncBase', 'Body', body),
  s('Business2PhoneNumber'),
  s('BusinessAddressCity'),
  s('BusinessAddressCountry'),
  s('BusinessAddressPostalCode'),
  s('BusinessAddressState'),
  s('BusinessAddressStreet'),
  s('BusinessFaxNumber'),
  s('BusinessPhoneNumber'),
  s('CarPhoneNumber'),
  field('Categories', C, 'Categories', categories),
  field('Children', C, 'Children', textList('Child')),
  s('CompanyName'),
  s('Department'),
  s('Email1Address'),
  s('Email2Address'),
  s('Email3Address'),
  s('FileAs'),
  s('FirstName'),
  s('Home2PhoneNumber'),
  s('HomeAddressCity'),
  s('HomeAddressCountry'),
  s('HomeAddressPostalCode'),
  s('HomeAddressState'),
  s('HomeAddressStreet'),
  s('HomeFaxNumber'),
  s('HomePhoneNumber'),
  s('JobTitle'),
  s('LastName'),
  s('MiddleName'),
  s('MobilePhoneNumber'),
  s('OfficeLocation'),
  s('OtherAddressCity'),
  s('OtherAddressCountry'),
  s('OtherAddressPostalCode'),
  s('OtherAddressState'),
  s('OtherAddressStreet'),
  s('PagerNumber'),
  // MS-ASCNTC 2.2.2.56: the photo's base64 text, kept as text.
  s('Picture'),
  s('RadioPhoneNumber'),
  s('Spouse'),
  s('Suffix'),
  s('Title'),
  s('WebPage'),
  s('YomiCompanyName'),
  s('YomiFirstName'),
  s('YomiLastName'),
  // MS-ASCNTC 2.2.2.3 Alias, 2.2.2.74 WeightedRank: recipient information cache only, 14.0+.
  field('Alias', C, 'Alias', text, { since: '14.0' }),
  field('WeightedRank', C, 'WeightedRank', integer(-0x80000000, 0x7fffffff), { since: '14.0' }),
  s('AccountName', C2),
  s('CompanyMainPhone', C2),
  s('CustomerId', C2),
  s('GovernmentId', C2),
  s('IMAddress', C2),
  s('IMAddress2', C2),
  s('IMAddress3', C2),
  s('ManagerName', C2),
  s('MMS', C2),
  s('NickName', C2),
];
