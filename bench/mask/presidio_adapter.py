"""Presidio adapter of bench/mask.sh: presidio-analyzer over every decoded JSON string,
entities limited to what the corpus labels as regulated data (credit card, IBAN, US
SSN, ABA routing, email, phone); every result is redacted, whatever its score (the
analyzer's default threshold, 0, as the anonymizer would use it).

Two modes:
  --nlp spacy:<model>  the default AnalyzerEngine set-up with that spaCy pipeline
                       (tokens and lemmas feed Presidio's context words)
  --nlp none           the same recognizers with an NLP engine that returns nothing:
                       Presidio's pattern recognizers (and the phone matcher) alone
Person names, places and the like are not requested: the corpus does not label them,
so masking them would only cost precision.
"""

import argparse
import sys

from common import per_string_main

ENTITIES = ["CREDIT_CARD", "IBAN_CODE", "US_SSN", "ABA_ROUTING_NUMBER", "EMAIL_ADDRESS",
            "PHONE_NUMBER"]


def null_engine():
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

    class NullNlpEngine(NlpEngine):
        """No tokens, no lemmas, no named entities: pattern recognizers only."""

        def load(self):
            pass

        def is_loaded(self):
            return True

        def process_text(self, text, language):
            return NlpArtifacts(entities=[], tokens=[], tokens_indices=[], lemmas=[],
                                nlp_engine=self, language=language)

        def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
            for t in texts:
                yield t, self.process_text(t, language)

        def is_stopword(self, word, language):
            return False

        def is_punct(self, word, language):
            return False

        def get_supported_entities(self):
            return []

        def get_supported_languages(self):
            return ["en"]

    return NullNlpEngine()


def offline_tldextract():
    """The email recognizer checks TLDs with tldextract, which fetches the public suffix
    list on first use; use the snapshot the package ships (no network here, and none
    wanted in a benchmark)."""
    import tldextract.tldextract as t
    t.TLD_EXTRACTOR = t.TLDExtract(suffix_list_urls=())


def make_detector(args):
    from presidio_analyzer import AnalyzerEngine

    offline_tldextract()

    if args.nlp == "none":
        engine = AnalyzerEngine(nlp_engine=null_engine(), supported_languages=["en"])
    else:
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        model = args.nlp.split(":", 1)[1]
        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]})
        engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])

    def detect(text, _key):
        if not text.strip():
            return []
        return [(r.start, r.end, r.entity_type)
                for r in engine.analyze(text=text, language="en", entities=ENTITIES)]

    return detect


if __name__ == "__main__":
    from importlib.metadata import version
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--nlp", default="none")
    opts, rest = pre.parse_known_args(sys.argv[1:])
    if opts.nlp == "none":
        mode = "pattern recognizers only (no NLP engine)"
    else:
        model = opts.nlp.split(":", 1)[1]
        try:
            mv = version(model.replace("_", "-"))
        except Exception:
            mv = "?"
        mode = "spaCy %s %s" % (model, mv)
    mode += "; 6 entities"

    def make(args, _nlp=opts.nlp):
        args.nlp = _nlp
        return make_detector(args)

    per_string_main("Presidio", version("presidio-analyzer"), mode, make, rest)
