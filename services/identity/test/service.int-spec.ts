import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('identity', [
  'citybase.identity.v1.TenancyService',
  'citybase.identity.v1.PeopleService',
  'citybase.identity.v1.AccessService',
  'citybase.identity.v1.ClientService',
  'citybase.identity.v1.TokenService',
]);
