# call: count_words("the cat and the hat")
def count_words(text):
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return max(counts, key=lambda w: (counts[w], w))
