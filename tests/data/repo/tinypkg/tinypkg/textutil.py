def words(text):
    return [word for word in text.replace(",", " ").split() if word]


def slug(text):
    return "-".join(word.lower() for word in words(text))
