/* version: the one place the release number lives (CLI `version`, /metrics' sluice_info). */
#ifndef SL_VERSION_H
#define SL_VERSION_H

#define SL_VERSION "0.1.0"

#endif
