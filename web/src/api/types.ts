import type { components } from "./schema";

type Schemas = components["schemas"];
export type Flag = Schemas["FlagRead"];
export type Segment = Schemas["SegmentRead"];
export type Environment = Schemas["EnvironmentRead"];
export type AuditEntry = Schemas["AuditRead"];
export type User = Schemas["UserRead"];
export type ApiKey = Schemas["ApiKeyRead"];
export type Webhook = Schemas["WebhookRead"];
export type Delivery = Schemas["DeliveryRead"];
export type Schedule = Schemas["RolloutScheduleRead"];
export type StaleFlag = Schemas["StaleFlag"];
export type Permissions = Schemas["PermissionsRead"];
