// The browser's languages, made safe for `Intl` before anything formats with them.
//
// WebKitGTK (the Linux app's webview, and Epiphany) reports `navigator.language` as "C" when the
// process runs under the C/POSIX locale (LANG=C.UTF-8 or unset: containers, Xvfb, minimal
// installs). "C" is no BCP 47 tag, so `Intl.NumberFormat("C")` throws a RangeError, and uPlot
// builds one from `navigator.language` while its module loads: the whole dashboard bundle stopped
// there and the window stayed blank. main.ts imports this module first, so the languages are
// repaired before uPlot's module runs.

/** Whether `Intl` accepts `tag` as a locale. */
export function isLocaleTag(tag: string): boolean {
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}

/** The tags of `languages` that `Intl` accepts; when none does, the engine's default locale. */
export function usableLanguages(languages: readonly string[], fallback: string): string[] {
  const usable = languages.filter(isLocaleTag);
  return usable.length > 0 ? usable : [fallback];
}

type Languages = { language: string; languages: readonly string[] };

/** Replaces `nav.language`/`nav.languages` when they hold tags `Intl` refuses; says whether it did. */
export function repairLanguages(nav: Languages): boolean {
  const given = nav.languages?.length ? nav.languages : [nav.language];
  if (isLocaleTag(nav.language) && given.every(isLocaleTag)) return false;
  // The engine's default locale is valid by construction (under LANG=C WebKit's is "en-US-u-va-posix").
  const usable = usableLanguages(given, new Intl.NumberFormat().resolvedOptions().locale);
  Object.defineProperty(nav, "language", { value: usable[0], configurable: true });
  Object.defineProperty(nav, "languages", { value: Object.freeze(usable), configurable: true });
  return true;
}

if (typeof navigator !== "undefined" && repairLanguages(navigator)) {
  console.info(`navigator.language was not a locale Intl accepts; using ${navigator.language}`);
}
