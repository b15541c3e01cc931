"""Pages speak Chinese first, English on request."""

from django.urls import reverse
from django.utils import translation


def test_pages_are_chinese_by_default_and_english_on_request(client, settings, county, owner):
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        body = client.get(reverse("accounts:login")).content.decode()
        assert 'lang="zh-hans"' in body
        assert "登录" in body
        client.force_login(owner)
        page = client.get(reverse("households:detail", kwargs={"pk": county.household_a1.pk}))
        assert "户主" in page.content.decode() or "成员" in page.content.decode()
    client.logout()
    english = client.get(reverse("accounts:login"), headers={"accept-language": "en"})
    assert "Log in" in english.content.decode()


def test_every_message_in_the_catalogue_is_translated():
    import gettext
    from pathlib import Path

    import minqing

    mo = Path(minqing.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    catalogue = gettext.GNUTranslations(mo.open("rb"))
    assert catalogue.gettext("Household saved.") != "Household saved."
    po = mo.with_suffix(".po").read_text()
    assert "#, fuzzy" not in po
    assert '\nmsgstr ""\n\n' not in po.split("\n\n", 1)[1], "untranslated messages in django.po"


def test_form_length_messages_read_naturally_in_chinese():
    from django import forms
    from django.utils import translation

    class Note(forms.Form):
        text = forms.CharField(max_length=5)

    with translation.override("zh-hans"):
        form = Note({"text": "一二三四五六七"})
        assert not form.is_valid()
        assert form.errors["text"] == ["最多填 5 个字（现在 7 个），请删减一些。"]
        assert "该变量" not in str(Note({"text": ""}).errors)
