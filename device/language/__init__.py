"""The words: lexicon, the text parser, grammars as word automata, the sentences and Rhino contexts."""
