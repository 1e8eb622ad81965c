import { runDeferred } from './cleanup';

afterEach(runDeferred);
