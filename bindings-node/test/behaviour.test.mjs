// The shared JS behaviour suite (tests/js/behaviour.suite.mjs) against this package's build.
import * as api from 'userspan';
import { behaviourSuite } from '../../tests/js/behaviour.suite.mjs';

behaviourSuite(api);
