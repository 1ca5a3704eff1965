import { describe, expect, it } from "vitest";
import { isLocaleTag, repairLanguages, usableLanguages } from "./locale";

describe("locale", () => {
  it("tells BCP 47 tags from POSIX locale names", () => {
    expect(isLocaleTag("en-US")).toBe(true);
    expect(isLocaleTag("de")).toBe(true);
    // What WebKitGTK reports under LANG=C.UTF-8, and what Intl.NumberFormat throws on.
    expect(isLocaleTag("C")).toBe(false);
    expect(() => new Intl.NumberFormat("C")).toThrow(RangeError);
    expect(isLocaleTag("en_US.UTF-8")).toBe(false);
  });

  it("keeps usable tags and falls back when none is", () => {
    expect(usableLanguages(["C", "fr-FR", "de"], "en-US")).toEqual(["fr-FR", "de"]);
    expect(usableLanguages(["C"], "en-US")).toEqual(["en-US"]);
  });

  it("repairs a navigator that says C, so Intl (and uPlot) can format with it", () => {
    const nav = { language: "C", languages: ["C"] as readonly string[] };
    expect(repairLanguages(nav)).toBe(true);
    expect(isLocaleTag(nav.language)).toBe(true);
    expect(nav.languages).toEqual([nav.language]);
    expect(() => new Intl.NumberFormat(nav.language).format(1234)).not.toThrow();
  });

  it("leaves valid languages alone", () => {
    const nav = { language: "de-DE", languages: ["de-DE", "en"] as readonly string[] };
    expect(repairLanguages(nav)).toBe(false);
    expect(nav.language).toBe("de-DE");
    expect(nav.languages).toEqual(["de-DE", "en"]);
  });
});
