"""codewm.load: one loader for import strings, dotted or with a colon, with errors that name them."""

from __future__ import annotations

import pytest

from codewm.load import LoadError, is_import_string, load_object


def test_both_forms_name_the_same_object():
    from codewm.predict.fake import EmptyLanguageModel

    assert load_object("codewm.predict.fake.EmptyLanguageModel") is EmptyLanguageModel
    assert load_object("codewm.predict.fake:EmptyLanguageModel") is EmptyLanguageModel
    assert load_object("codewm.predict.fake:EmptyLanguageModel.complete") is EmptyLanguageModel.complete


@pytest.mark.parametrize("spec", ["codewm.nothing.Here", "codewm.predict.fake.Nothing", "codewm.predict.fake:Nothing", "nope", ".relative.Name"])
def test_a_failure_names_the_spec(spec):
    with pytest.raises(LoadError, match="cannot load " + repr(spec).replace(".", r"\.")) as caught:
        load_object(spec)
    assert caught.value.spec == spec and caught.value.reason
    assert isinstance(caught.value, ImportError)


def test_the_shape_of_an_import_string():
    assert is_import_string("a.b") and is_import_string("a:b") and is_import_string("a.b:c.d")
    assert not is_import_string("nope") and not is_import_string(":b") and not is_import_string(".b")
