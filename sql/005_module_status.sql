-- What each module runs on, as its processes report it at start: the
-- dashboard shows whether a module's provider is real or offline.
CREATE TABLE "ModuleStatus" (
    "module"     TEXT NOT NULL PRIMARY KEY,
    "kind"       TEXT NOT NULL,
    "provider"   TEXT NOT NULL,
    "offline"    BOOLEAN NOT NULL,
    "updatedAt"  TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
