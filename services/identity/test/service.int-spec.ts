import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('identity', ['citybase.identity.v1.IdentityService']);
