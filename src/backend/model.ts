// The item model backends read and write: one type per folder class, with property names taken
// verbatim from the MS-AS* documents so the engine maps them to WBXML tags one to one.
// Dates are JS Dates (the engine formats them per spec); binary values are Uint8Array.
// Everything is optional: a backend fills what its store knows.

/** The five EAS classes (MS-ASCMD 2.2.3.27 Class). */
export type ItemClass = 'Email' | 'Calendar' | 'Contacts' | 'Tasks' | 'Notes';

export const itemClasses: readonly ItemClass[] = ['Email', 'Calendar', 'Contacts', 'Tasks', 'Notes'];

/** MS-ASAIRS 2.2.2.41.1 Type: 1 plain text, 2 HTML, 3 RTF, 4 MIME. */
export type BodyType = 1 | 2 | 3 | 4;

/** MS-ASAIRS 2.2.2.9 Body. `Data` is text for types 1–3 and raw message bytes for 4. */
export interface Body {
  Type: BodyType;
  /** Size in bytes of the whole body in this Type, even when `Data` is truncated or absent. */
  EstimatedDataSize: number;
  Truncated?: boolean;
  Data?: string | Uint8Array;
  /** MS-ASAIRS 2.2.2.35.1: up to 255 characters of plain text (14.0+). */
  Preview?: string;
}

/**
 * MS-ASAIRS 2.2.2.10 BodyPart (14.1+): the message part of an email — its text without the quoted
 * conversation — given when the client sent a BodyPartPreference. Status 1 success, 176 too large.
 */
export interface BodyPart {
  Status: 1 | 176;
  Type: BodyType;
  EstimatedDataSize: number;
  Truncated?: boolean;
  Data?: string;
  Preview?: string;
}

/** MS-ASAIRS 2.2.2.12 BodyPreference, as the client sent it. */
export interface BodyPreference {
  Type: BodyType;
  /** MS-ASAIRS 2.2.2.40.2; absent means "whole body". */
  TruncationSize?: number;
  /** MS-ASAIRS 2.2.2.3.2: only meaningful with TruncationSize. */
  AllOrNone?: boolean;
  /** MS-ASAIRS 2.2.2.35.4: preview length in characters, 0–255. */
  Preview?: number;
}

/** MS-ASAIRS 2.2.2.7 Attachment (Method: 1 normal, 5 embedded message, 6 OLE). */
export interface Attachment {
  DisplayName?: string;
  /** Opaque, unique per account; passed back to `mail.getAttachment` (ItemOperations Fetch). */
  FileReference: string;
  Method: 1 | 5 | 6;
  EstimatedDataSize: number;
  ContentId?: string;
  ContentLocation?: string;
  IsInline?: boolean;
  UmAttDuration?: number;
  UmAttOrder?: number;
  /** Not a spec element: the part's MIME type, useful to backends and ItemOperations. */
  ContentType?: string;
}

/** MS-ASAIRS 2.2.2.2 Add (16.0+): an attachment a client adds to a draft or calendar item. */
export interface AttachmentAdd {
  ClientId: string;
  DisplayName: string;
  Method: 1 | 5 | 6;
  Content: Uint8Array;
  ContentId?: string;
  ContentLocation?: string;
  IsInline?: boolean;
  ContentType?: string;
}

/** MS-ASEMAIL 2.2.2.34 Flag. An empty object clears the flag. */
export interface EmailFlag {
  /** 0 cleared, 1 complete, 2 active. */
  Status?: 0 | 1 | 2;
  FlagType?: string;
  CompleteTime?: Date;
  // tasks: namespace children of Flag (MS-ASEMAIL 2.2.2.34, MS-ASTASK)
  StartDate?: Date;
  UtcStartDate?: Date;
  DueDate?: Date;
  UtcDueDate?: Date;
  DateCompleted?: Date;
  ReminderSet?: boolean;
  ReminderTime?: Date;
  OrdinalDate?: Date;
  SubOrdinalDate?: string;
}

/** MS-ASCAL 2.2.2.38 / MS-ASTASK 2.2.2.18 Recurrence (both share these names). */
export interface Recurrence {
  /** 0 daily, 1 weekly, 2 monthly, 3 monthly on the nth day, 5 yearly, 6 yearly on the nth day. */
  Type: 0 | 1 | 2 | 3 | 5 | 6;
  Occurrences?: number;
  Interval?: number;
  WeekOfMonth?: number;
  /** Bit mask: 1 Sunday … 64 Saturday, 127 last day of month. */
  DayOfWeek?: number;
  MonthOfYear?: number;
  Until?: Date;
  DayOfMonth?: number;
  CalendarType?: number;
  IsLeapMonth?: boolean;
  FirstDayOfWeek?: number;
  // MS-ASTASK only
  Start?: Date;
  Regenerate?: boolean;
  DeadOccur?: boolean;
}

/** MS-ASEMAIL 2.2.2.48 MeetingRequest. */
export interface MeetingRequest {
  AllDayEvent?: boolean;
  StartTime?: Date;
  DtStamp?: Date;
  EndTime?: Date;
  InstanceType?: 0 | 1 | 2 | 3 | 4;
  /** 14.x string; 16.x the AirSyncBase Location object. */
  Location?: Location;
  Organizer?: string;
  RecurrenceId?: Date;
  Reminder?: number;
  ResponseRequested?: boolean;
  Recurrences?: Recurrence[];
  Sensitivity?: 0 | 1 | 2 | 3;
  BusyStatus?: 0 | 1 | 2 | 3 | 4;
  /** MS-ASDTYPE 2.7 TIME_ZONE_INFORMATION bytes; converters decode it. */
  TimeZone?: Uint8Array;
  GlobalObjId?: string;
  DisallowNewTimeProposal?: boolean;
  /** email2:MeetingMessageType (14.1+). */
  MeetingMessageType?: number;
  ProposedStartTime?: Date;
  ProposedEndTime?: Date;
  UID?: string;
}

/** MS-ASEMAIL + MS-ASEMAIL email2 (14.0+) properties. */
export interface EmailItem {
  To?: string;
  Cc?: string;
  From?: string;
  ReplyTo?: string;
  Subject?: string;
  DateReceived?: Date;
  DisplayTo?: string;
  ThreadTopic?: string;
  /** 0 low, 1 normal, 2 high. */
  Importance?: 0 | 1 | 2;
  Read?: boolean;
  Flag?: EmailFlag;
  MessageClass?: string;
  InternetCPID?: string;
  ContentClass?: string;
  /** airsyncbase:NativeBodyType. */
  NativeBodyType?: BodyType;
  ConversationId?: Uint8Array;
  ConversationIndex?: Uint8Array;
  Categories?: string[];
  Body?: Body;
  /** Only when the read asked for it (ReadOptions.bodyPartPreferences). */
  BodyPart?: BodyPart;
  Attachments?: Attachment[];
  MeetingRequest?: MeetingRequest;
  // email2
  UmCallerID?: string;
  UmUserNotes?: string;
  ReceivedAsBcc?: boolean;
  Sender?: string;
  /** 1 reply to sender, 2 reply to all, 3 forward. */
  LastVerbExecuted?: 0 | 1 | 2 | 3;
  LastVerbExecutionTime?: Date;
  CalendarType?: number;
  IsLeapMonth?: boolean;
  AccountId?: string;
  FirstDayOfWeek?: number;
  IsDraft?: boolean;
  Bcc?: string;
  /** Not a spec element: RFC 5322 Message-ID, so replies and moves can be matched. */
  MessageId?: string;
  /** 16.0+ draft writes: attachments the client adds and the FileReferences it deletes. */
  AttachmentsAdd?: AttachmentAdd[];
  AttachmentsDelete?: string[];
}

/** MS-ASAIRS 2.2.2.27 Location (16.0+). A 14.x string Location is `{ DisplayName }`. */
export interface Location {
  DisplayName?: string;
  Annotation?: string;
  Street?: string;
  City?: string;
  State?: string;
  Country?: string;
  PostalCode?: string;
  Latitude?: number;
  Longitude?: number;
  Accuracy?: number;
  Altitude?: number;
  AltitudeAccuracy?: number;
  LocationUri?: string;
}

/** MS-ASCAL 2.2.2.4 Attendee. */
export interface Attendee {
  Email: string;
  Name?: string;
  /** 0 unknown, 2 tentative, 3 accept, 4 decline, 5 not responded. */
  AttendeeStatus?: 0 | 2 | 3 | 4 | 5;
  /** 1 required, 2 optional, 3 resource. */
  AttendeeType?: 1 | 2 | 3;
  ProposedStartTime?: Date;
  ProposedEndTime?: Date;
}

/** MS-ASCAL 2.2.2.20 Exception: one changed or deleted occurrence. */
export interface CalendarException {
  Deleted?: boolean;
  /** 14.x identifies the occurrence by ExceptionStartTime, 16.x by InstanceId; both are its original start. */
  ExceptionStartTime: Date;
  Subject?: string;
  StartTime?: Date;
  EndTime?: Date;
  Body?: Body;
  Location?: Location;
  Categories?: string[];
  Sensitivity?: 0 | 1 | 2 | 3;
  BusyStatus?: 0 | 1 | 2 | 3 | 4;
  AllDayEvent?: boolean;
  Reminder?: number;
  DtStamp?: Date;
  MeetingStatus?: number;
  Attendees?: Attendee[];
  AppointmentReplyTime?: Date;
  ResponseType?: 0 | 1 | 2 | 3 | 4 | 5;
  OnlineMeetingConfLink?: string;
  OnlineMeetingExternalLink?: string;
}

/** MS-ASCAL properties. */
export interface CalendarItem {
  /** MS-ASDTYPE 2.7 TIME_ZONE_INFORMATION bytes (172); converters build and read them. */
  TimeZone?: Uint8Array;
  AllDayEvent?: boolean;
  Body?: Body;
  /** 0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere. */
  BusyStatus?: 0 | 1 | 2 | 3 | 4;
  OrganizerName?: string;
  OrganizerEmail?: string;
  DtStamp?: Date;
  EndTime?: Date;
  /** 16.x object; the engine sends `DisplayName` as the 14.x string. */
  Location?: Location;
  /** Minutes before StartTime. */
  Reminder?: number;
  /** 0 normal, 1 personal, 2 private, 3 confidential. */
  Sensitivity?: 0 | 1 | 2 | 3;
  Subject?: string;
  StartTime?: Date;
  UID?: string;
  /** 0 appointment, 1 meeting organized by the user, 3 received, 5 cancelled … (MS-ASCAL 2.2.2.29). */
  MeetingStatus?: number;
  Attendees?: Attendee[];
  Categories?: string[];
  Recurrence?: Recurrence;
  Exceptions?: CalendarException[];
  ResponseRequested?: boolean;
  AppointmentReplyTime?: Date;
  /** 0 none, 1 organizer, 2 tentative, 3 accepted, 4 declined, 5 not responded. */
  ResponseType?: 0 | 1 | 2 | 3 | 4 | 5;
  CalendarType?: number;
  IsLeapMonth?: boolean;
  FirstDayOfWeek?: number;
  OnlineMeetingConfLink?: string;
  OnlineMeetingExternalLink?: string;
  DisallowNewTimeProposal?: boolean;
  /** 16.0+: the client's id for an item it adds. */
  ClientUid?: string;
  /**
   * Not an EAS element: the iCalendar SEQUENCE (RFC 5545 3.8.7.4), which the organizer's updates
   * raise (RFC 5546 2.1.4); kept so invitations sent for the user's meetings number their versions.
   */
  Sequence?: number;
  Attachments?: Attachment[];
  AttachmentsAdd?: AttachmentAdd[];
  AttachmentsDelete?: string[];
}

/** MS-ASCNTC properties, Contacts2 included. */
export interface ContactItem {
  Anniversary?: Date;
  AssistantName?: string;
  AssistantPhoneNumber?: string;
  Birthday?: Date;
  Body?: Body;
  Business2PhoneNumber?: string;
  BusinessAddressCity?: string;
  BusinessAddressCountry?: string;
  BusinessAddressPostalCode?: string;
  BusinessAddressState?: string;
  BusinessAddressStreet?: string;
  BusinessFaxNumber?: string;
  BusinessPhoneNumber?: string;
  CarPhoneNumber?: string;
  Categories?: string[];
  Children?: string[];
  CompanyName?: string;
  Department?: string;
  Email1Address?: string;
  Email2Address?: string;
  Email3Address?: string;
  FileAs?: string;
  FirstName?: string;
  Home2PhoneNumber?: string;
  HomeAddressCity?: string;
  HomeAddressCountry?: string;
  HomeAddressPostalCode?: string;
  HomeAddressState?: string;
  HomeAddressStreet?: string;
  HomeFaxNumber?: string;
  HomePhoneNumber?: string;
  JobTitle?: string;
  LastName?: string;
  MiddleName?: string;
  MobilePhoneNumber?: string;
  OfficeLocation?: string;
  OtherAddressCity?: string;
  OtherAddressCountry?: string;
  OtherAddressPostalCode?: string;
  OtherAddressState?: string;
  OtherAddressStreet?: string;
  PagerNumber?: string;
  /** Base64 of the photo (MS-ASCNTC 2.2.2.56). */
  Picture?: string;
  RadioPhoneNumber?: string;
  Spouse?: string;
  Suffix?: string;
  Title?: string;
  WebPage?: string;
  YomiCompanyName?: string;
  YomiFirstName?: string;
  YomiLastName?: string;
  Alias?: string;
  WeightedRank?: number;
  // Contacts2
  AccountName?: string;
  CompanyMainPhone?: string;
  CustomerId?: string;
  GovernmentId?: string;
  IMAddress?: string;
  IMAddress2?: string;
  IMAddress3?: string;
  ManagerName?: string;
  MMS?: string;
  NickName?: string;
}

/** MS-ASTASK properties. */
export interface TaskItem {
  Subject?: string;
  Body?: Body;
  Categories?: string[];
  Complete?: boolean;
  DateCompleted?: Date;
  DueDate?: Date;
  UtcDueDate?: Date;
  Importance?: 0 | 1 | 2;
  Recurrence?: Recurrence;
  ReminderSet?: boolean;
  ReminderTime?: Date;
  Sensitivity?: 0 | 1 | 2 | 3;
  StartDate?: Date;
  UtcStartDate?: Date;
  OrdinalDate?: Date;
  SubOrdinalDate?: string;
}

/** MS-ASNOTE properties. */
export interface NoteItem {
  Subject?: string;
  Body?: Body;
  MessageClass?: string;
  LastModifiedDate?: Date;
  Categories?: string[];
}

export interface ItemByClass {
  Email: EmailItem;
  Calendar: CalendarItem;
  Contacts: ContactItem;
  Tasks: TaskItem;
  Notes: NoteItem;
}

/** An item tagged with its class, so code can narrow on `class`. */
export type TypedItem = { [C in ItemClass]: { class: C; item: ItemByClass[C] } }[ItemClass];
