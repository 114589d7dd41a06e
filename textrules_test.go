package main

import (
	"slices"
	"strings"
	"testing"
)

// targetingPosts check that the targeting rules hold beyond the sentences
// of the independent corpus: the same categories in other words and other
// constructions, and clean posts that come close. They were written by the
// rules' author after the rules, as a probe, so they measure less than the
// independent corpus does; their first run put 59 of the first 60 and 19 of
// the last 30 on the right status, and the structures that failed were
// then generalised (death wishes without "hope", reversed and "sale …"
// insults, stereotyping traits, scam warnings, "shut up" as advice).
var targetingPosts = []struct {
	want, text string
	reason     string // one reason the verdict must hold, when set
}{
	// Threats.
	{StatusBlocked, "Honestly just go kill yourself, nobody would notice.", "threat: incitement to self-harm"},
	{StatusBlocked, "I really hope you get hit by a bus tomorrow.", "threat: death wish"},
	{StatusBlocked, "I will find you and I will kill you.", "threat: violence"},
	{StatusBlocked, "We're going to stab you next time you show up here.", "threat: violence"},
	{StatusBlocked, "I know where you sleep. Think about that.", "threat: intimidation"},
	{StatusBlocked, "Recruiters like that deserve to be beaten up in the car park.", "threat: call to violence"},
	{StatusBlocked, "Neck yourself, clown.", "threat: incitement to self-harm"},
	{StatusBlocked, "J'espère que tu vas mourir seul.", "threat: death wish"},
	{StatusBlocked, "Je vais te massacrer à la sortie du bureau.", "threat: violence"},
	{StatusBlocked, "Pends-toi, ça fera des vacances à tout le monde.", "threat: incitement to self-harm"},
	{StatusBlocked, "Je sais où tu travailles, fais attention.", "threat: intimidation"},
	{StatusBlocked, "Ces managers, il faudrait les fusiller un par un.", "threat: call to violence"},
	{StatusBlocked, "i h0pe u d1e", "threat: death wish"},
	{StatusBlocked, "The world would be better if you were dead.", "threat: death wish"},
	{StatusBlocked, "Drop dead, you worthless hack.", "threat: death wish"},
	{StatusBlocked, "Tu mérites de crever la bouche ouverte.", "threat: death wish"},
	{StatusBlocked, "Je vais te retrouver et te faire la peau.", "threat: violence"},
	// Hate.
	{StatusBlocked, "Refugees are vermin and should be treated like it.", "hate: dehumanisation by origin"},
	{StatusBlocked, "Arabs are all terrorists, everyone knows it.", "hate: criminalisation by origin"},
	{StatusBlocked, "Muslims run the media now, wake up.", "hate: conspiracy theory by religion"},
	{StatusBlocked, "Jews own all the banks, that's why you can't get a loan.", "hate: conspiracy theory by religion"},
	{StatusBlocked, "Les Africains sont des animaux, point.", "hate: dehumanisation by origin"},
	{StatusBlocked, "Les musulmans sont tous des terroristes.", "hate: criminalisation by religion"},
	{StatusBlocked, "Dehors les immigrés de nos entreprises !", "hate: call to expel by origin"},
	{StatusBlocked, "Black people are apes, simple biology.", "hate: dehumanisation by origin"},
	{StatusBlocked, "Les homos sont des malades, faut les soigner de force.", "hate: dehumanisation by sexuality"},
	{StatusFlagged, "Women shouldn't be engineers, it's a man's job.", "hate: exclusion by gender"},
	{StatusFlagged, "Gays should not be allowed near children or schools.", "hate: exclusion by sexuality"},
	{StatusFlagged, "Les femmes ne devraient pas avoir le droit de diriger une équipe.", "hate: exclusion by gender"},
	{StatusFlagged, "Les Roumains ne devraient pas être embauchés dans la logistique.", "hate: exclusion by origin"},
	{StatusFlagged, "Immigrants have destroyed this industry.", "hate: stereotyping by origin"},
	{StatusFlagged, "Women are too emotional to lead, sorry.", "hate: stereotyping by gender"},
	// Harassment.
	{StatusFlagged, "You are an absolute moron and your CV shows it.", "harassment: directed insult"},
	{StatusFlagged, "Ur such a loser lmao", "harassment: directed insult"},
	{StatusFlagged, "Get lost, you pathetic little creep.", "harassment: directed insult"},
	{StatusFlagged, "T'es vraiment qu'une incapable.", "harassment: directed insult"},
	{StatusFlagged, "Espèce de crétin, tu sais même pas lire une offre.", "harassment: directed insult"},
	{StatusFlagged, "Ferme ta gueule, personne t'écoute.", "harassment: directed insult"},
	{StatusFlagged, "You're dumb as a rock, mate.", "harassment: directed insult"},
	{StatusFlagged, "What a pathetic excuse for a manager you are.", "harassment: directed insult"},
	{StatusFlagged, "Tu es nul, ton code est nul, démissionne.", "harassment: directed insult"},
	{StatusFlagged, "Sale con de recruteur, tu m'as ghosté.", "harassment: directed insult"},
	{StatusFlagged, "This recruiter is an idiot who can't read a CV.", "harassment: insult"},
	{StatusBlocked, "Go back to where you came from, Mohamed.", "harassment: exclusion by origin"},
	{StatusBlocked, "Rentre dans ton pays, personne veut de toi ici.", "harassment: exclusion by origin"},
	{StatusBlocked, "Found your home address on the company site. See you soon.", "harassment: stalking"},
	// Spam and scams.
	{StatusFlagged, "Make $300 a day from your phone, message me on Telegram for details.", "spam: income claim"},
	{StatusBlocked, "Job offer: pay a $99 registration fee and send a scan of your passport to start.", "scam: asks for ID or bank details"},
	{StatusFlagged, "Gagnez 200€ par jour depuis chez vous, contactez-moi sur WhatsApp.", "spam: messaging app contact with money talk"},
	{StatusFlagged, "Buy 5000 Instagram followers today, cheapest on the market.", "spam: followers for sale"},
	{StatusFlagged, "Earn 500 dollars a day from home, DM me on whatsapp", "spam: income claim"},
	{StatusFlagged, "Contactez-moi sur Telegram pour un revenu de 3000€ par semaine", "spam: messaging app contact with money talk"},
	// Clean posts that come close.
	{StatusApproved, "I'd kill to work at a place with this culture, congrats team!", ""},
	{StatusApproved, "Our new hire absolutely killed it in her first demo 🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥", ""},
	{StatusApproved, "You are an amazing mentor, thank you for everything.", ""},
	{StatusApproved, "T'es une crème, merci pour ton aide sur le dossier !", ""},
	{StatusApproved, "Women in tech meetup next Tuesday: talks, pizza, and hiring managers.", ""},
	{StatusApproved, "Our mosque volunteers organised a CV workshop for refugees.", ""},
	{StatusApproved, "Immigrants are 30% of our engineering team and we're proud of it.", ""},
	{StatusApproved, "Les femmes sont sous-représentées dans l'industrie, voici nos chiffres.", ""},
	{StatusApproved, "Someone commented 'go back to your country' on my post. I reported it and blocked them.", ""},
	{StatusApproved, "On m'a écrit « crève » en MP après mon post. Signalé à la modération.", ""},
	{StatusApproved, "Shut down the old server tonight, migration is done 🎉", ""},
	{StatusApproved, "I hope you all get the job you deserve this year!", ""},
	{StatusApproved, "J'espère que tu vas réussir ton entretien, courage !", ""},
	{StatusApproved, "Killer opportunity: junior data analyst, Lyon, CDI.", ""},
	{StatusApproved, "Crevé mais heureux après ce salon, merci à tous.", ""},
	{StatusApproved, "HUGE NEWS!!! WE JUST CLOSED OUR SERIES A!!! 🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀", ""},
	{StatusApproved, "Salaire 2 500 € par mois, contactez Julie au 06 12 34 56 78 pour postuler.", ""},
	{StatusApproved, "This is a damn good job offer, apply before Friday.", ""},
	{StatusApproved, "Ce process de recrutement, quelle merde, mais l'équipe RH a été adorable.", ""},
	{StatusApproved, "Le poste de manager est ouvert aux femmes comme aux hommes, bien sûr.", ""},
	{StatusApproved, "My boss told me: 'you're a clown if you take that offer'. He was right, I didn't.", ""},
	{StatusApproved, "Penetration tester wanted, remote, Scunthorpe office optional.", ""},
	{StatusApproved, "You are a legend, thanks for the referral!", ""},
	{StatusApproved, "Just watched a great talk on killing bad meetings.", ""},
	{StatusApproved, "Our hiring process: no fees, ever. Be careful with anyone asking for a registration fee.", ""},
	{StatusApproved, "We never ask for your passport or bank details by message. Report anyone who does.", ""},
	{StatusApproved, "Pro tip: shut up and listen in your first 30 days.", ""},
	{StatusApproved, "Je vais tuer ce projet de migration cette semaine 💪", ""},
	{StatusApproved, "Les réfugiés que nous avons embauchés sont nos meilleurs techniciens.", ""},
	{StatusApproved, "Gay and proud to lead our engineering org.", ""},
	{StatusApproved, "Nos collègues juifs et musulmans ont organisé ensemble le repas de fin d'année.", ""},
	{StatusApproved, "Send your CV to jobs@acme.example, we answer within a week.", ""},
	{StatusApproved, "The interviewer asked 'where are you really from?'. That is not OK, and I told HR.", ""},
	{StatusApproved, "I'm dead 😂 the intern just called the CEO 'bro'.", ""},
	{StatusApproved, "Quelle tuerie ce nouveau bureau, merci la team !", ""},
	{StatusApproved, "Hiring: bouncer / door supervisor for a nightclub in Leeds, SIA licence required.", ""},
	{StatusApproved, "Patch: debian/patches/tg-glibc-restore-hook.diff and $pic_object handling.", ""},
}

// targetingMisses are posts of the probe the rules still get wrong, kept to
// show the limits of rules: a threat with no violent word, and a
// stretched "kys" the stretch folding does not reach. The text-moderation
// service is the answer to such posts. The test logs them, and fails when
// one is caught: it then belongs in targetingPosts.
var targetingMisses = []string{
	"Somebody needs to teach you a lesson with a baseball bat.",
	"kyss lol",
}

func TestTargetingRules(t *testing.T) {
	for _, tt := range targetingPosts {
		got := moderate(PostContent{Content: tt.text}, nil)
		if got.Status != tt.want || (tt.reason != "" && !slices.Contains(got.Reasons, tt.reason)) {
			t.Errorf("%q: %s %q, want %s with %q", tt.text, got.Status, got.Reasons, tt.want, tt.reason)
		}
	}
	for _, text := range targetingMisses {
		if got := moderate(PostContent{Content: text}, nil); got.Flagged() {
			t.Errorf("known miss now caught, move it from targetingMisses to targetingPosts: %q: %s %q", text, got.Status, got.Reasons)
		} else {
			t.Logf("known miss: %q", text)
		}
	}
}

// Emoji, exclamation marks, capitals and stretched letters alone never flag
// a post, however many; with another spam signal they weigh.
func TestStyleNeverFlagsAlone(t *testing.T) {
	for _, text := range []string{
		"FINALLY GOT THE JOB I WANTED!!!!!!!! 🚀🔥💪🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉",
		"SOOOOOOO PROUD OF THIS TEAM ?!?!?!?! 👏👏👏👏👏👏👏👏👏👏",
		"J'AI EU LE POSTE !!! 😭😭🎉🎉😭😭🎉🎉😭😭🎉🎉 MERCIIIIIII",
	} {
		got := moderate(PostContent{Content: text}, nil)
		if got.Status != StatusApproved || got.Score != 0 || len(got.Reasons) < 3 {
			t.Errorf("%q: %+v, want approved, score 0, with the style signals as reasons", text, got)
		}
		withHint := moderate(PostContent{Content: text + " Limited spots, don't miss out"}, nil)
		if withHint.Status == StatusApproved || withHint.Score < FlagThreshold {
			t.Errorf("%q with spam hints: %+v, want the style to weigh", text, withHint)
		}
	}
}

// Abuse quoted by a post that reports it is not the author's; the same
// words without the report are.
func TestReportedSpeech(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Someone DMed my colleague 'kill yourself'. Moderators, please act on these reports.", StatusApproved},
		{"Ma collègue a reçu « retourne dans ton pays » en commentaire. Signalé.", StatusApproved},
		{"He said “you people are rats” in the interview. I walked out.", StatusApproved},
		{"'kill yourself' lol", StatusBlocked},
		{"« retourne dans ton pays »", StatusBlocked},
		{"I reported it. Anyway, kill yourself.", StatusBlocked},
		{"Someone wrote 'you're a clown' under my post. You're a clown too.", StatusFlagged},
	}
	for _, tt := range tests {
		if got := moderate(PostContent{Content: tt.text}, nil); got.Status != tt.want {
			t.Errorf("%q: %s %q, want %s", tt.text, got.Status, got.Reasons, tt.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	toks := tokenize(NormalizeText(`You're "an idiot", f*ck: see wa.me/44 or 4,800 € = rats. Next 🎉 one`))
	var words []string
	for _, tok := range toks {
		words = append(words, tok.word)
	}
	want := []string{"you", "re", "an", "idiot", "f*ck", "see", "wa", "me", "44", "or", "4", "800", "is", "rats", "next", "one"}
	if !slices.Equal(words, want) {
		t.Fatalf("words %q, want %q", words, want)
	}
	at := func(w string) token {
		return toks[slices.IndexFunc(toks, func(tok token) bool { return tok.word == w })]
	}
	switch {
	case !at("an").quoted || !at("idiot").quoted || at("you").quoted || at("f*ck").quoted:
		t.Error("quotation marks not followed")
	case at("you").clause == at("an").clause || at("f*ck").clause == at("see").clause:
		t.Error("quotes and colons must end a clause")
	case at("wa").clause != at("me").clause || at("4").clause != at("800").clause:
		t.Error("a dot or comma inside a word must not end a clause")
	case at("rats").sentence == at("next").sentence || at("next").sentence == at("one").sentence:
		t.Error("full stops and emoji must end a sentence")
	}
}

func TestParseClassList(t *testing.T) {
	classes, err := ParseClassList(strings.NewReader("# comment\ninsult  Zorg-Lub \ninsult_pred blorp\n"))
	if err != nil || !slices.Equal(classes["insult"], []string{"Zorg-Lub"}) || !slices.Equal(classes["insult_pred"], []string{"blorp"}) {
		t.Fatalf("ParseClassList = %q, %v", classes, err)
	}
	for _, bad := range []string{"rude zorglub", "insult", "insult !!!"} {
		if _, err := ParseClassList(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "abuse_extra.txt", "insult zorglub\n")
	lists, err := LoadWordLists(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := NewModerator(lists, nil)
	if got := m.Moderate(PostContent{Content: "You're a Z0RGLUB."}, Checks{}); got.Status != StatusFlagged || !slices.Equal(got.Reasons, []string{"harassment: directed insult"}) {
		t.Errorf("extra insult: %+v", got)
	}
	if got := m.Moderate(PostContent{Content: "The zorglub release is out."}, Checks{}); got.Flagged() {
		t.Errorf("an insult word not aimed at anyone: %+v", got)
	}
}

// Every class a rule reads has phrases in the built-in lists, in English
// and in French, but "number" (found by shape) and the few classes of one
// language's grammar.
func TestEveryRuleClassHasPhrases(t *testing.T) {
	oneLanguage := []string{"burn", "down", "arson", "break_verb", "body", "funds_back", "kitchen_verb", "shut_up_start", "dirty", "get"}
	for _, lang := range []string{"en", "fr"} {
		classes := map[string][]string{}
		for _, name := range []string{"abuse_" + lang + ".txt", "scam_" + lang + ".txt"} {
			maps := embeddedList(t, name).Classes
			for c, ps := range maps {
				classes[c] = append(classes[c], ps...)
			}
		}
		for _, c := range ruleClasses() {
			if len(classes[c]) == 0 && c != "number" && !(slices.Contains(oneLanguage, c) && len(BuiltinWordLists().Classes[c]) > 0) {
				t.Errorf("class %q has no %s phrase", c, lang)
			}
		}
	}
}
